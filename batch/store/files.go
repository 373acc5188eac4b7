package store

// File statuses. ingest writes the files table (its statements are in batch/ingest/files_sql.go);
// the statuses are here because plan, the report and the runner's status read them too, and steps
// do not import each other. A loaded file's rows are kept; a rejected one is refused whole and may
// come back byte for byte (and then be loaded); a duplicate repeats the bytes of a loaded file
// under another name, one row per name.
const (
	FileLoaded    = "loaded"
	FileRejected  = "rejected"
	FileDuplicate = "duplicate"
)

// FilesRefused are the statuses of a file none of whose rows were kept.
var FilesRefused = []string{FileRejected, FileDuplicate}
