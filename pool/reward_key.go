package pool

import "fmt"

// RewardJournalKey is the deterministic identity of the JNLS journal that gives one reward: the
// same reward in the same run and attempt always gets the same key. It is derived apart from
// JournalKey ("reward", not "journal"), so no reward id can ever share a key with an allocation.
func RewardJournalKey(rewardsAccount, businessDate, rewardID string, attempt int) string {
	return uuidFrom("reward", rewardsAccount, businessDate, rewardID, fmt.Sprint(attempt))
}
