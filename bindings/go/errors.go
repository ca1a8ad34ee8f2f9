package authsec

//go:generate go run ./internal/codegen/gen ../../include/authsec_codes.json codes.go

// Code is a stable authsec code (the C ABI's authsec_status, the core's ErrorCode). Its
// constants and the Err* sentinels are generated from include/authsec_codes.json (codes.go).
// A Code is an error, so the sentinels work with errors.Is.
type Code uint32

type codeInfo struct {
	code    Code
	name    string
	scope   string
	summary string
}

// Name is the stable lower-case name ("config_invalid"), "unknown" for a number that is not a code.
func (c Code) Name() string {
	for _, ci := range codeTable {
		if ci.code == c {
			return ci.name
		}
	}
	return "unknown"
}

// Error makes a Code usable as a sentinel: it reads as its name.
func (c Code) Error() string { return "authsec: " + c.Name() }

// Error is a failure of the library: a stable code and a message that never contains a token or
// a secret. errors.Is(err, authsec.ErrConfigInvalid) (or any Err* sentinel) matches on the code.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return "authsec: " + e.Code.Name() + ": " + e.Message }

// Unwrap gives the code, so errors.Is matches the code's sentinel.
func (e *Error) Unwrap() error { return e.Code }

func newError(c Code, msg string) error { return &Error{Code: c, Message: msg} }
