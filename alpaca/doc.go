// Package alpaca is a small typed client for the journal endpoints of Alpaca's Broker API, and the
// wire types the simulator in alpaca/sandbox shares. Decimals travel as JSON strings; statuses are
// kept as raw strings because Alpaca adds new ones without notice.
package alpaca
