package schema_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

// TestLockHeld: a lock another session holds is seen held, and free once released, whatever the
// sign of its key (a bigint key is two oids in pg_locks).
func TestLockHeld(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	ctx := context.Background()
	signs := map[bool]bool{}
	for i := range 16 {
		name := fmt.Sprintf("test:%d", i)
		signs[schema.LockKey(name) < 0] = true
		_, unlock, err := schema.TryLock(ctx, db.DB, name)
		if err != nil {
			t.Fatal(err)
		}
		held, err := schema.LockHeld(ctx, db.DB, name)
		if err != nil || !held {
			t.Fatalf("%s: held %v (%v) while taken, want true", name, held, err)
		}
		if other, err := schema.LockHeld(ctx, db.DB, name+"x"); err != nil || other {
			t.Fatalf("%sx: held %v (%v), nobody took it", name, other, err)
		}
		unlock()
		if held, err := schema.LockHeld(ctx, db.DB, name); err != nil || held {
			t.Fatalf("%s: held %v (%v) once released, want false", name, held, err)
		}
	}
	if len(signs) != 2 {
		t.Fatalf("the names' keys were all of one sign: the test covers half of the keys")
	}
}
