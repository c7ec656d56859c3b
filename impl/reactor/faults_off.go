//go:build !faults

package reactor

// The seeded faults of faults_on.go are constants false here, so that the
// production build compiles every seeded branch away: it carries none of
// them. Build with -tags faults and set HANDOFF_FAULT to switch one on
// (scripts/mutants.sh).
const (
	faultNotifyBeforePush      = false
	faultClearAfterDrain       = false
	faultDropOnFullPipe        = false
	faultRacyRR                = false
	faultUnlockedPop           = false
	faultEventfdPopOne         = false
	faultFdClosedBeforeOnClose = false
	faultBalancerSkipsWorker   = false
	faultRegisteredTwice       = false
	faultNewestFirstPop        = false
	faultFdLeaked              = false
	faultQueuedLeftOpen        = false
	faultStaleTaskRuns         = false
	faultStaleEventDelivered   = false
)

// faultWindow widens the window between the two halves of a racy seeded
// fault; never called in production.
func faultWindow() {}

// popUnlocked is the unlocked-pop fault's pop; never called here, since
// faultUnlockedPop is false.
func (w *worker) popUnlocked() (item, bool) { return item{}, false }

// popNewestLocked is the newest-first-pop fault's pop; never called here.
func (q *queue) popNewestLocked() (item, bool) { return item{}, false }
