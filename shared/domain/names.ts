// Sets of names as constant objects whose values are the names themselves ({ a: "a" }):
// written once, so a key and its value can never drift apart.

export function names<const T extends readonly string[]>(...values: T): { readonly [K in T[number]]: K } {
  return Object.freeze(Object.fromEntries(values.map((v) => [v, v]))) as { readonly [K in T[number]]: K };
}
