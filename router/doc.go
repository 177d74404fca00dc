// Package router owns a node's listeners, realms and lifecycle: it turns
// the config into transports, hands each connection to a session, and
// admits sessions into realms.
//
// Concurrency: Start and Shutdown are called once each from one goroutine;
// everything else runs on the goroutines of the listeners and sessions.
package router
