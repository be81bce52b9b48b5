// Package tick holds the loop of the background work that runs a step at
// a steady rate until its context ends (log discovery, the dashboard's
// load and rates, the direct targets' refresh, the advice watch, the
// soak's schedule and samples); each caller keeps only its step.
package tick
