// Package bench holds the night benchmark (`make bench`): one whole `cashpool run` of a generated
// night against `cashpool sandbox`, on a PostgreSQL cluster that commits durably, measured beside
// a plain `psql \copy` of the night's allocations file and the floor script (floor.sql), the least
// database work the same night needs. It drives the built binary only, through its command line
// and environment, points cashpool straight at the simulator and reads the broker calls from the
// simulator's own count (GET /sandbox/v1/calls) once the night is over.
//
//	make bench-night NIGHT=100000
//	go test ./bench -run '^$' -bench 'Night/journals=100000$' -benchtime 1x -timeout 60m
package bench
