// Package bench holds the night benchmark (`make bench`): one whole `cashpool run` of a generated
// night against `cashpool sandbox`, on a PostgreSQL cluster that commits durably, measured beside
// a plain `psql \copy` of the night's allocations file and the floor script (floor.sql), the least
// database work the same night needs. It drives the built binary only, through its command line
// and environment, and counts broker calls with a reverse proxy of its own between the two.
//
//	make bench-night NIGHT=100000
//	go test ./bench -run '^$' -bench 'Night/journals=100000$' -benchtime 1x -timeout 60m
package bench
