// The device inventory API: the list admins pick a device from (with eligibility) and one device.
import type { FunctionDefinition } from "./definition.js";
import { endpoint } from "./http/endpoint.js";
import { problemSchema } from "../shared/contracts/common.js";
import { deviceIdParams, deviceListQuery, deviceListSchema, deviceSchema } from "../shared/contracts/devices.js";

const tag = "Devices";
const noRole = { 403: { description: "The caller has no remote assistance role", schema: problemSchema } };

export const deviceFunctions: FunctionDefinition[] = [
  endpoint({
    name: "listDevices",
    method: "GET",
    route: "devices",
    summary:
      "Devices in the caller's scope, by name (or by matched value when searching), each with whether a remote assistance session is possible and why not",
    tag,
    authenticated: true,
    access: "read",
    query: deviceListQuery,
    responses: {
      200: {
        description: "A page of devices. A page may hold fewer than `top` devices and still carry a continuationToken; follow it until it is absent.",
        schema: deviceListSchema,
      },
      ...noRole,
    },
    handle: async ({ caller, query, services }) => ({ status: 200, body: await services.devices.list(caller, query) }),
  }),
  endpoint({
    name: "getDevice",
    method: "GET",
    route: "devices/{deviceId}",
    summary: "One device with its remote assistance eligibility",
    tag,
    authenticated: true,
    access: "read",
    params: deviceIdParams,
    responses: {
      200: { description: "The device", schema: deviceSchema },
      ...noRole,
      404: { description: "No such device in the caller's tenant and scope", schema: problemSchema },
    },
    errors: ["notFound"],
    handle: async ({ caller, params, services }) => ({ status: 200, body: await services.devices.get(caller, params.deviceId) }),
  }),
];
