package track

// Every statement that writes journal_replacements (schema: migration 00005): a corrected
// journal linked, once, to the journal Alpaca replaced it with. The report reads them.
const insertReplacement = `
				INSERT INTO journal_replacements (journal_id, alpaca_id, amount, status, found_at) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT DO NOTHING`
