package bench

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine Play and Publish start must be gone when they return; the
// in-test servers are closed by their cleanups.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
