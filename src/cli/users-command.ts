/**
 * `wharf users list|add|delete|password|permissions|grant|revoke` and
 * `wharf vhosts list|add|delete`: users, their per-vhost permissions (configure, write and
 * read regular expressions, as RabbitMQ) and virtual hosts, through the management API. These
 * need a user tagged `administrator`.
 */
import type { Command } from "commander";
import { clientAction, collectString, formatTable, toJson, writeLine } from "./kafka-client.ts";
import {
  addManagementOptions,
  apiPath,
  callApi,
  type ManagementFlags,
} from "./management-client.ts";

interface UserRow {
  name: string;
  tags: string[];
}

interface PermissionRow {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export function registerUsersCommand(program: Command): void {
  const users = program.command("users").description("manage users and their permissions");
  addManagementOptions(
    users.command("list").description("list users").option("--json", "print JSON"),
    {
      vhost: false,
    },
  ).action(
    clientAction(async (flags: ManagementFlags) => {
      const rows = (await callApi(flags, "GET", apiPath("users"))) as UserRow[];
      if (flags.json) return writeLine(toJson(rows));
      writeLine(formatTable([["NAME", "TAGS"], ...rows.map((u) => [u.name, u.tags.join(",")])]));
    }),
  );
  addManagementOptions(
    users
      .command("add")
      .description("create a user (or update its password and tags)")
      .argument("<name>")
      .argument("<new-password>")
      .option("--tag <tag>", "a tag such as administrator (repeatable)", collectString),
    { vhost: false },
  ).action(
    clientAction(
      async (name: string, newPassword: string, flags: ManagementFlags & { tag?: string[] }) => {
        await callApi(flags, "PUT", apiPath("users", name), {
          password: newPassword,
          tags: flags.tag ?? [],
        });
        writeLine(`user '${name}' saved`);
      },
    ),
  );
  addManagementOptions(
    users
      .command("password")
      .description("change a user's password")
      .argument("<name>")
      .argument("<new-password>"),
    { vhost: false },
  ).action(
    clientAction(async (name: string, newPassword: string, flags: ManagementFlags) => {
      const current = (await callApi(flags, "GET", apiPath("users", name))) as UserRow;
      await callApi(flags, "PUT", apiPath("users", name), {
        password: newPassword,
        tags: current.tags,
      });
      writeLine(`password of '${name}' changed`);
    }),
  );
  addManagementOptions(users.command("delete").description("delete a user").argument("<name>"), {
    vhost: false,
  }).action(
    clientAction(async (name: string, flags: ManagementFlags) => {
      await callApi(flags, "DELETE", apiPath("users", name));
      writeLine(`user '${name}' deleted`);
    }),
  );
  addManagementOptions(
    users
      .command("permissions")
      .description("list permissions of every user")
      .option("--json", "print JSON"),
    { vhost: false },
  ).action(
    clientAction(async (flags: ManagementFlags) => {
      const rows = (await callApi(flags, "GET", apiPath("permissions"))) as PermissionRow[];
      if (flags.json) return writeLine(toJson(rows));
      writeLine(
        formatTable([
          ["USER", "VHOST", "CONFIGURE", "WRITE", "READ"],
          ...rows.map((p) => [p.user, p.vhost, p.configure, p.write, p.read]),
        ]),
      );
    }),
  );
  addManagementOptions(
    users
      .command("grant")
      .description("set a user's permissions on a virtual host (regular expressions)")
      .argument("<name>")
      .option("--configure <regex>", "resources the user may declare and delete", ".*")
      .option("--write <regex>", "resources the user may publish to and bind", ".*")
      .option("--read <regex>", "resources the user may consume from and bind from", ".*"),
  ).action(
    clientAction(
      async (
        name: string,
        flags: ManagementFlags & { configure: string; write: string; read: string },
      ) => {
        await callApi(flags, "PUT", apiPath("permissions", flags.vhost, name), {
          configure: flags.configure,
          write: flags.write,
          read: flags.read,
        });
        writeLine(`permissions of '${name}' on '${flags.vhost}' set`);
      },
    ),
  );
  addManagementOptions(
    users
      .command("revoke")
      .description("remove a user's permissions on a virtual host")
      .argument("<name>"),
  ).action(
    clientAction(async (name: string, flags: ManagementFlags) => {
      await callApi(flags, "DELETE", apiPath("permissions", flags.vhost, name));
      writeLine(`permissions of '${name}' on '${flags.vhost}' removed`);
    }),
  );

  const vhosts = program.command("vhosts").description("manage virtual hosts");
  addManagementOptions(
    vhosts.command("list").description("list virtual hosts").option("--json", "print JSON"),
    {
      vhost: false,
    },
  ).action(
    clientAction(async (flags: ManagementFlags) => {
      const rows = (await callApi(flags, "GET", apiPath("vhosts"))) as { name: string }[];
      if (flags.json) return writeLine(toJson(rows));
      writeLine(formatTable([["NAME"], ...rows.map((v) => [v.name])]));
    }),
  );
  for (const action of ["add", "delete"] as const) {
    addManagementOptions(
      vhosts.command(action).description(`${action} a virtual host`).argument("<name>"),
      { vhost: false },
    ).action(
      clientAction(async (name: string, flags: ManagementFlags) => {
        await callApi(flags, action === "add" ? "PUT" : "DELETE", apiPath("vhosts", name));
        writeLine(`vhost '${name}' ${action === "add" ? "added" : "deleted"}`);
      }),
    );
  }
}
