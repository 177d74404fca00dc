// Package console serves the admin console: a live web page of a node's
// realms, sessions, subscriptions, registrations, rates, cluster link and
// config, with two actions, killing a session and reloading the config
// (docs/console.md).
//
// The page and its assets are embedded in the binary (assets/); the data
// comes from a Backend, which package router implements, so that this
// package imports neither router nor the realms it shows.
//
// Concurrency: a Handler is safe for concurrent use. It runs no goroutine
// of its own: rates are sampled when a page asks for data (at most once
// per Config.Interval), so a console nobody watches costs nothing, and a
// stopped router leaves nothing of it running.
package console
