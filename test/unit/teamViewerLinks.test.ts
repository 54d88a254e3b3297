// Which TeamViewer links may reach a browser or a device: https only; http to loopback
// only where the local stack allows it.
import { describe, expect, it } from "vitest";
import { linkProblem } from "../../shared/adapters/teamviewer/wire.js";

describe("linkProblem", () => {
  it.each(["https://start.teamviewer.com/s12345678", "HTTPS://start.teamviewer.com/s/s12345678/supporter?x=1", "https://get.teamviewer.com/v15/abc"])(
    "accepts %s",
    (link) => {
      // Act + Assess
      expect(linkProblem(link, false)).toBeUndefined();
    },
  );

  it.each([
    ["http to a public host", "http://start.teamviewer.com/s12345678", "is not https"],
    ["http to loopback without the local switch", "http://127.0.0.1:7072/s/s12345678", "is not https"],
    ["javascript:", "javascript:alert(document.domain)//", "is not https"],
    ["data:", "data:text/html,<script>alert(1)</script>", "is not https"],
    ["a relative link", "/s/s12345678", "is not an absolute URL"],
    ["credentials", "https://user:pass@start.teamviewer.com/s1", "carries a user name or password"],
    ["leading whitespace (a URL parser would strip it)", " https://start.teamviewer.com/s1", "spaces or control characters"],
    ["a newline", "https://start.teamviewer.com/s1\njavascript:x", "spaces or control characters"],
    ["an empty link", "", "is empty"],
    ["an endless link", `https://start.teamviewer.com/${"a".repeat(3000)}`, "too long"],
  ])("refuses %s", (_, link, problem) => {
    // Act + Assess
    expect(linkProblem(link, false)).toContain(problem);
  });

  it("with the local switch, accepts http to loopback only", () => {
    // Act + Assess
    expect(linkProblem("http://127.0.0.1:7072/s/s12345678", true)).toBeUndefined();
    expect(linkProblem("http://localhost:7072/s/s12345678", true)).toBeUndefined();
    expect(linkProblem("http://[::1]:7072/s/s12345678", true)).toBeUndefined();
    expect(linkProblem("http://127.0.0.1.evil.example/s", true)).toBe("is not https");
    expect(linkProblem("http://evil.example/s", true)).toBe("is not https");
    expect(linkProblem("javascript:alert(1)//127.0.0.1", true)).toBe("is not https");
  });
});
