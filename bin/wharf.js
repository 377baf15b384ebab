#!/usr/bin/env node
// Entry point of the `wharf` command. The sources are TypeScript run through tsx's loader,
// so `npm install` then `npm start` works with no build step.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
