// Package config defines a Switchboard node's configuration and loads it
// from config.yaml.
//
// Loading is strict: an unknown key, a value of the wrong type, an address
// that cannot be bound or two listeners on one port are errors, each
// placed in the file as "config.yaml:12:5: transports[1].listen: …", so
// that a typo is caught by `switchboard check` rather than discovered in
// production as a silently ignored setting. Parse reports every problem
// it finds, not just the first.
//
// Defaults are documented on each field. A key the file leaves out takes
// its default; a file without transports or realms gets those of Default,
// the same node a Crossbar.io starter gives: ws://127.0.0.1:8080/ws,
// RawSocket on 127.0.0.1:8081 and the realm "realm1".
//
// Sizes may be written as bytes (1048576) or with a unit ("64KiB",
// "16MiB", "1MB"); durations as Go durations ("30s", "1m30s").
//
// Concurrency: a Config is plain data. Load and Parse return a fresh one;
// once loaded, any number of goroutines may read it. Nothing in this
// package changes a Config after it is returned, except Validate and
// SetDefaults when called on it.
package config
