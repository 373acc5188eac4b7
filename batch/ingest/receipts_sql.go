package ingest

// Every statement that writes receipts (schema: migration 00001), and the careful path's staging
// table stage_receipts. plan and the report read receipts with their own queries.
var receiptsSQL = kindSQL{
	table: "receipts",
	copyTarget: `COPY receipts (file_id, line, receipt_id, value_date, amount, currency, originator_name,
		originator_account, originator_bank, originator_address, reference) FROM STDIN`,
	stage: `CREATE TEMP TABLE stage_receipts (line INT NOT NULL, receipt_id TEXT NOT NULL, value_date DATE NOT NULL,
		amount NUMERIC(20,2) NOT NULL, currency TEXT NOT NULL, originator_name TEXT NOT NULL,
		originator_account TEXT NOT NULL, originator_bank TEXT NOT NULL, originator_address TEXT NOT NULL,
		reference TEXT NOT NULL) ON COMMIT DROP`,
	copyStage: `COPY stage_receipts (line, receipt_id, value_date, amount, currency, originator_name,
		originator_account, originator_bank, originator_address, reference) FROM STDIN`,
	insertSelect: `INSERT INTO receipts (receipt_id, file_id, line, value_date, amount, currency, originator_name,
		originator_account, originator_bank, originator_address, reference)
		SELECT receipt_id, $1, line, value_date, amount, currency, originator_name,
		originator_account, originator_bank, originator_address, reference FROM stage_receipts ORDER BY line`,
	inFileDups: keyRepeated("stage_receipts", "receipt_id"),
	conflicts: `SELECT s.line, 'receipt_id ' || s.receipt_id, s.receipt_id, f.name, r.line FROM stage_receipts s
		JOIN receipts r ON r.receipt_id = s.receipt_id JOIN files f ON f.id = r.file_id ORDER BY s.line`,
	keyColumn: rcReceiptID,
}

// queryReceiptsLoaded finds which of the receipt ids $1 are loaded already, and from which file:
// a bank statement skips them (the same entry reported again).
const queryReceiptsLoaded = `SELECT r.receipt_id, r.amount, f.name FROM receipts r JOIN files f ON f.id = r.file_id
		WHERE r.receipt_id = ANY($1::text[])`
