package main

import (
	"strings"
	"testing"
)

// A broker URL carrying a password, or too broken to parse, is a usage error that never prints
// the password: the client would otherwise quote the whole URL in its first error.
func TestBrokerURLPasswordNeverPrinted(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"https://key:hunter2@broker-api.alpaca.markets", "https://key:hunter2@broker-api.alpaca.markets:bad",
		"https://key:pw/hunter2@broker-api.alpaca.markets"} {
		c := &config{BrokerURL: raw, KeyID: "k", Secret: "s", SweepAccount: "8f8c8cee-2591-4f83-be12-82c659b5e748"}
		err := c.needBroker()
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "APCA_BROKER_URL") {
			t.Errorf("%s: %v", strings.ReplaceAll(raw, "hunter2", "<password>"), err)
		}
	}
	c := &config{BrokerURL: "https://broker-api.sandbox.alpaca.markets/", KeyID: "k", Secret: "s", SweepAccount: "8f8c8cee-2591-4f83-be12-82c659b5e748"}
	if err := c.needBroker(); err != nil || c.BrokerURL != "https://broker-api.sandbox.alpaca.markets" {
		t.Errorf("a good URL: %q %v", c.BrokerURL, err)
	}
}
