package alpaca

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// Journal statuses Alpaca documents. A journal may carry any other string: keep it, never reject it.
const (
	StatusQueued          = "queued"
	StatusSentToClearing  = "sent_to_clearing"
	StatusPending         = "pending"
	StatusExecuted        = "executed"
	StatusActivityCreated = "activity_created"
	StatusRejected        = "rejected"
	StatusRefused         = "refused"
	StatusCanceled        = "canceled"
	StatusDeleted         = "deleted"
	StatusCorrect         = "correct"
)

// Statuses are the statuses Alpaca documents, in flow order.
var Statuses = []string{StatusQueued, StatusSentToClearing, StatusPending, StatusExecuted, StatusActivityCreated,
	StatusRejected, StatusRefused, StatusCanceled, StatusDeleted, StatusCorrect}

// KnownStatus reports whether s is a status Alpaca documents.
func KnownStatus(s string) bool {
	switch s {
	case StatusQueued, StatusSentToClearing, StatusPending, StatusExecuted, StatusActivityCreated,
		StatusRejected, StatusRefused, StatusCanceled, StatusDeleted, StatusCorrect:
		return true
	}
	return false
}

// Funded reports whether s means the money reached the customer's account. Funded is not final:
// Alpaca's cashiering team may still reverse or correct the journal.
func Funded(s string) bool { return s == StatusExecuted || s == StatusActivityCreated }

// Failed reports whether s means the journal never moved money and never will.
func Failed(s string) bool {
	switch s {
	case StatusRejected, StatusRefused, StatusCanceled, StatusDeleted:
		return true
	}
	return false
}

// Journal is Alpaca's journal object as returned by every journal endpoint. Nullable fields are
// pointers; older wire shapes send "" or "0" where newer ones send null, and both decode.
type Journal struct {
	ID          string              `json:"id"`
	EntryType   string              `json:"entry_type"`
	FromAccount string              `json:"from_account"`
	ToAccount   string              `json:"to_account"`
	Symbol      *string             `json:"symbol"`
	Qty         decimal.NullDecimal `json:"qty"`
	Price       decimal.NullDecimal `json:"price"`
	Status      string              `json:"status"`
	SettleDate  *string             `json:"settle_date"`
	SystemDate  *string             `json:"system_date"`
	NetAmount   decimal.NullDecimal `json:"net_amount"`
	Description string              `json:"description"`
	Currency    string              `json:"currency"`
	CreatedAt   string              `json:"created_at,omitempty"`

	TransmitterName                 string `json:"transmitter_name,omitempty"`
	TransmitterAccountNumber        string `json:"transmitter_account_number,omitempty"`
	TransmitterAddress              string `json:"transmitter_address,omitempty"`
	TransmitterFinancialInstitution string `json:"transmitter_financial_institution,omitempty"`
	TransmitterTimestamp            string `json:"transmitter_timestamp,omitempty"`
}

// BatchJournal is one element of the batch endpoint's answer. An empty or absent ErrorMessage
// means the entry was accepted.
type BatchJournal struct {
	Journal
	ErrorMessage string `json:"error_message,omitempty"`
}

// BatchRequest is the body of POST /v1/journals/batch.
type BatchRequest struct {
	EntryType   string       `json:"entry_type"`
	FromAccount string       `json:"from_account"`
	Entries     []BatchEntry `json:"entries"`
}

// BatchEntry is one destination of a batch. Amount is a decimal string with two places.
type BatchEntry struct {
	ToAccount                       string `json:"to_account"`
	Amount                          string `json:"amount"`
	Description                     string `json:"description,omitempty"`
	TransmitterName                 string `json:"transmitter_name,omitempty"`
	TransmitterAccountNumber        string `json:"transmitter_account_number,omitempty"`
	TransmitterAddress              string `json:"transmitter_address,omitempty"`
	TransmitterFinancialInstitution string `json:"transmitter_financial_institution,omitempty"`
	TransmitterTimestamp            string `json:"transmitter_timestamp,omitempty"`
}

// CreateJournalRequest is the body of POST /v1/journals.
type CreateJournalRequest struct {
	EntryType   string `json:"entry_type"`
	FromAccount string `json:"from_account"`
	ToAccount   string `json:"to_account"`
	Amount      string `json:"amount,omitempty"`
	Symbol      string `json:"symbol,omitempty"`
	Qty         string `json:"qty,omitempty"`
	Currency    string `json:"currency,omitempty"`
	Description string `json:"description,omitempty"`

	TransmitterName                 string `json:"transmitter_name,omitempty"`
	TransmitterAccountNumber        string `json:"transmitter_account_number,omitempty"`
	TransmitterAddress              string `json:"transmitter_address,omitempty"`
	TransmitterFinancialInstitution string `json:"transmitter_financial_institution,omitempty"`
	TransmitterTimestamp            string `json:"transmitter_timestamp,omitempty"`
}

// APIError is Alpaca's error body, {"code": ..., "message": ...}, with the HTTP status it came with.
type APIError struct {
	HTTPStatus int    `json:"-"`
	Code       int    `json:"code"`
	Message    string `json:"message"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("alpaca: HTTP %d: code %d: %s", e.HTTPStatus, e.Code, e.Message)
}
