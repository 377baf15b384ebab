/**
 * Binding listeners with the failure messages the configuration contract promises:
 * a taken port ends startup with one line naming the listener, address and port.
 */
import type { Server } from "node:net";
import { WharfError } from "../errors/index.ts";

export function listen(server: Server, name: string, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      if (error.code === "EADDRINUSE") {
        reject(
          new WharfError("WHARF_PORT_IN_USE", `${name} port ${port} on ${host} is already in use`),
        );
      } else if (error.code === "EACCES") {
        reject(
          new WharfError("WHARF_PORT_IN_USE", `${name} port ${port} on ${host}: permission denied`),
        );
      } else if (error.code === "EADDRNOTAVAIL" || error.code === "ENOTFOUND") {
        reject(
          new WharfError(
            "WHARF_CONFIG_INVALID",
            `${name}: host ${host} is not an address of this machine`,
          ),
        );
      } else {
        reject(error);
      }
    };
    const onListening = () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({ host, port, exclusive: true });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}
