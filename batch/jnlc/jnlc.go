package jnlc

// BatchSizeDefault is how many journals one POST /v1/journals/batch carries. Defaults to 500.
const BatchSizeDefault = 500
