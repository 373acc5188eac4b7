// Package ingest is the first step of the pipeline: it takes the CSV files operations drop into a
// folder, loads each good file whole and refuses each bad one whole, with every problem it has.
//
// # When a file is taken
//
// A file is taken when it is complete by one of two rules:
//
//   - a marker named <file>.ready exists beside it (for tools that can write one after the file), or
//   - its size and modification time are the same as at the previous scan (for people copying by
//     hand, and for tools that rename a finished file into the folder). Config.RequireReady turns
//     this rule off: only marked files are taken.
//
// Run performs one scan and never sleeps; the caller decides how often to scan. A file seen for the
// first time without a marker is reported as skipped-incomplete and its size and time are kept in
// the drop_scans table; the next scan takes it if neither moved. A one-shot command therefore scans,
// and scans again after a pause if anything was incomplete; a long-running scheduler just scans on
// its interval. A marker whose file is not in the folder is moved to archive/: it would otherwise
// vouch for the next file of that name before that file is finished.
//
// # A file that changes while it is read
//
// A writer that paused longer than the settle time, or wrote its marker too early, may go on after
// the file was taken. The file is copied into the hidden .reading folder as it is hashed, and the
// copy is what is parsed and loaded, so the bytes loaded are the bytes hashed. Just before the
// commit the file is checked again: size, modification time and SHA-256. If it changed, nothing is
// committed; the version that was read goes to rejected/ under the file's name with its errors file
// (and the file's .ready marker, written before the change), it is recorded as a rejected file with
// changed_while_read set so the night's report lists it, and the file as it is now stays in the
// drop folder and is taken again once it is complete (outcome changed-while-read). Rows are never
// half loaded and nothing is lost: both versions are kept.
//
// Kinds come from names: receipts*.csv, allocations*.csv and rewards*.csv by default (Config
// patterns, matched without regard to case). Other .csv files are reported as ignored and left in place; files whose
// names start with a dot are not looked at.
//
// Bank statements (BAI2 *.bai*, camt.053/054 camt05[34]*.xml by default) are receipts files too:
// read with bank/bai2 or bank/camt for Config.BankAccount, refused whole on any problem, and each
// credit loaded as a receipt keyed by the payment's match key. An entry already loaded from an
// earlier statement (a camt.054 before the camt.053, an interim BAI2 before the final) is skipped,
// not refused; one that would change or withdraw a loaded receipt (another amount, a BAI2 deletion
// or correction of its day) refuses the file. The references a statement gives each receipt are
// recorded, and an allocations row may name its receipt by one of them (bank_reference): each scan
// resolves such a row once exactly one receipt carries its reference. See statement.go and
// reference.go.
//
// # What happens to a taken file
//
// A file is identified by the SHA-256 of its bytes. Bytes already loaded under another name are a
// duplicate: nothing is loaded, a files row with status duplicate is recorded (so the night's report
// lists it like any refused file), and the file goes to rejected/ with an errors file saying
// "duplicate of <name> loaded at <time>". Bytes already loaded under the same name mean an earlier
// scan committed but stopped before moving the file; this scan only archives it.
//
// A good file's rows are loaded with COPY into receipts, allocations or rewards in one transaction together
// with its files row (status loaded); only after the commit is the file moved to archive/. Each row's
// COPY line is written as soon as the row is validated and sent in large chunks (copy.go), so a
// file's rows are never all held in memory. The fast
// path COPYs straight into the real table and gives up at the first problem of any kind. A file with
// a problem is then read again in full: every row is checked, the good rows are COPYed into a
// temporary table, and the database lists duplicates within the file (the same receipt_id, or the
// same receipt_id and client_ref, the same reward_id) and rows already loaded by earlier files, each
// with its line.
// If anything is wrong the transaction is rolled back, a files row with status rejected, the error
// count and the first problem is committed, and the file moves to rejected/ with its errors file.
// Nothing is ever deleted: names already taken in archive/ or rejected/ get a ~N suffix before the
// extension (chosen so that the file's .ready marker can follow it under the same name).
//
// # What is checked
//
// Files are UTF-8 with or without a byte order mark, with CRLF or LF line ends, and start with a
// header row naming the columns (case and surrounding spaces ignored, any order). Missing, unknown
// and repeated columns are problems, as are: an empty file, a header without data rows, a row with
// the wrong number of fields, CSV syntax errors, lines or rows longer than MaxRecordBytes, UTF-16,
// invalid UTF-8 and control characters, and every field rule of package pool (amounts, weights,
// account ids, dates, currency, identifiers, text lengths). Blank lines are skipped. Quoted fields
// may hold commas and line breaks. Every problem carries the physical line the field starts on
// (counting the header and the lines inside quoted fields), the column number and the field name.
//
// # Errors file
//
// Beside every refused file in rejected/ sits <name>.errors.csv (the file's full name, as it is
// in rejected/, plus .errors.csv), a CSV with the header
//
//	line,column,field,value,problem
//
// one row per problem sorted by line and column, line and column left empty when the problem is
// about the whole file or the whole row. At most MaxProblems rows are listed; when there were more,
// a last row with only the problem column says "N more errors not listed". Values are shortened to
// 200 bytes. In every column, control characters and invalid UTF-8 are shown escaped (\x1b, \n,
// \u202e, \xff; see pool.Printable) and text a spreadsheet would run as a formula gets a leading
// apostrophe. File names and problems reach logs, the command line and status pages escaped too.
package ingest
