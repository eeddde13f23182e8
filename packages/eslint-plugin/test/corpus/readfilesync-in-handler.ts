// expect: weft/no-blocking-call-in-task
// A request handler reading a template synchronously: every other task waits for the disk.
import { readFileSync } from "node:fs";
import { sleep } from "@weft/core";

export async function handleRequest(name: string): Promise<string> {
  await sleep(1);
  const template = readFileSync("templates/greeting.html", "utf8");
  return template.replace("{{name}}", name);
}
