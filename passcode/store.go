package passcode

import "github.com/connectorkit/twiliosms/passcode/storage"

// Store is where a Service keeps codes, limits and the fraud guard's
// counts: passcode/memstore (the default), passcode/redisstore,
// passcode/pgstore, or your own (see passcode/storage, and
// passcode/storetest for the suite every Store must pass).
type Store = storage.Store
