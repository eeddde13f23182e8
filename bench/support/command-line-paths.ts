/**
 * Paths on the command line of the repository's scripts (bench, soak). pnpm
 * runs a package's script in the package's folder, so a path the user typed
 * is meant from where pnpm was started (`INIT_CWD`), and a default path is
 * the repository's.
 */
import * as path from "node:path";

const REPOSITORY_ROOT = path.resolve(import.meta.dirname, "..", "..");

/** A path the user typed, resolved from where they ran the command. */
export function invocationPath(given: string): string {
  return path.resolve(process.env.INIT_CWD ?? process.cwd(), given);
}

/** A path relative to the repository's root. */
export function repositoryPath(relative: string): string {
  return path.resolve(REPOSITORY_ROOT, relative);
}

/** The path the user gave (see `invocationPath`), else the repository's default. */
export function argumentPath(given: string | undefined, repositoryDefault: string): string {
  return given === undefined ? repositoryPath(repositoryDefault) : invocationPath(given);
}
