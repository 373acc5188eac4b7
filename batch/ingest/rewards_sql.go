package ingest

// Every statement that writes rewards (schema: migration 00025), and the careful path's staging
// table stage_rewards. The night plans and reports rewards with its own queries. A reward_id is
// given once across all files: a repeat within the file or of a loaded reward refuses the file.
var rewardsSQL = kindSQL{
	table:      "rewards",
	copyTarget: `COPY rewards (file_id, line, reward_id, account_id, symbol, qty, reason, description) FROM STDIN`,
	stage: `CREATE TEMP TABLE stage_rewards (line INT NOT NULL, reward_id TEXT COLLATE "C" NOT NULL, account_id UUID NOT NULL,
		symbol TEXT COLLATE "C" NOT NULL, qty NUMERIC(30,9) NOT NULL, reason TEXT NOT NULL, description TEXT NOT NULL) ON COMMIT DROP`,
	copyStage: `COPY stage_rewards (line, reward_id, account_id, symbol, qty, reason, description) FROM STDIN`,
	insertSelect: `INSERT INTO rewards (reward_id, file_id, line, account_id, symbol, qty, reason, description)
		SELECT reward_id, $1, line, account_id, symbol, qty, reason, description FROM stage_rewards ORDER BY line`,
	inFileDups: keyRepeated("stage_rewards", "reward_id"),
	conflicts: `SELECT s.line, 'reward_id ' || s.reward_id, s.reward_id, f.name, w.line FROM stage_rewards s
		JOIN rewards w ON w.reward_id = s.reward_id JOIN files f ON f.id = w.file_id ORDER BY s.line`,
	keyColumn: wcRewardID,
}
