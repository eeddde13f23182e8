/**
 * `@weft/net`: Trio-style byte streams, TCP / Unix / TLS / UDP sockets, listeners,
 * `serve`, Happy Eyeballs and periodic timers for the weft runtime.
 *
 * Coming soon: this package is a placeholder and exports nothing yet.
 *
 * @packageDocumentation
 */
export {};
