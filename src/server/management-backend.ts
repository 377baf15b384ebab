/**
 * Adapts the broker core to what the management API needs (src/admin/management-api.ts):
 * the user store authenticates and keeps users and permissions, the vhost registry keeps
 * virtual hosts, and each VirtualHost answers listings from its router. Lives in the
 * composition root because it joins two layers (admin above, core below) that do not import
 * each other's internals.
 */
import type {
  ManagedPermission,
  ManagedUser,
  ManagedVhost,
  ManagementBackend,
} from "../admin/management-api.ts";
import type { Broker } from "../core/broker.ts";
import type { VirtualHost } from "../core/vhosts/virtual-host.ts";

function managed(vhost: VirtualHost): ManagedVhost {
  return {
    api: vhost,
    listExchanges: () =>
      [...vhost.router.exchangeNames()].map((name) => vhost.router.getExchange(name)!),
    listBindings: () => [...vhost.router.bindings()],
  };
}

export function managementBackend(broker: Broker, version: string): ManagementBackend {
  const { users, vhosts } = broker;
  return {
    authenticate(user, password, remoteAddress): ManagedUser {
      const principal = users.authenticate(user, password, remoteAddress);
      return { name: principal.user, tags: users.get(principal.user)?.tags ?? [] };
    },
    vhostNames: () => vhosts.list().map((record) => record.name),
    vhost(name) {
      const vhost = vhosts.get(name);
      return vhost === undefined ? undefined : managed(vhost);
    },
    addVhost: async (name) => {
      if (!vhosts.has(name)) await vhosts.add(name);
    },
    deleteVhost: (name) => vhosts.delete(name),
    listUsers: () => users.list().map((u) => ({ name: u.name, tags: u.tags })),
    async putUser(name, password, tags) {
      if (users.get(name) === undefined) {
        await users.add(name, password ?? "", { tags: [...tags] });
        return;
      }
      if (password !== undefined) await users.changePassword(name, password);
      await users.setTags(name, [...tags]);
    },
    deleteUser: (name) => users.delete(name),
    listPermissions: (): ManagedPermission[] =>
      users.listPermissions().map(({ user, vhost, permissions }) => ({
        user,
        vhost,
        configure: permissions.configure,
        write: permissions.write,
        read: permissions.read,
      })),
    setPermissions: (vhost, user, permission) => users.setPermissions(user, vhost, permission),
    clearPermissions: (vhost, user) => users.clearPermissions(user, vhost),
    overview: () => ({ product: "WharfMQ", version, node: "wharf@localhost" }),
  };
}
