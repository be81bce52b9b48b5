// Package scenario runs failover scenarios as tests (`easlocal test`):
// a YAML file names a service, the load to drive through it, faults on a
// schedule and expectations; Run brings the service up, drives the load,
// injects the faults, checks the expectations, tears down and reports.
package scenario
