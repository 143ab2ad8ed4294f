package hooks

import (
	"encoding/json"
	"errors"
)

// decodeJSON reads body into v; a field of the wrong type is named.
func decodeJSON(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return &inputError{typeErr.Field, "is a JSON " + typeErr.Value + ", not the " + typeErr.Type.Kind().String() + " expected"}
	case errors.As(err, &typeErr):
		return &inputError{"the body", "is a JSON " + typeErr.Value + ", not an object"}
	}
	return &inputError{"the body", "is not a JSON object (" + err.Error() + ")"}
}
