// Package store keeps orders; it has the mistakes a review misses.
package store

import (
	"crypto/sha1"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
)

// Store is an order store.
type Store struct{ db *sql.DB }

// Find looks an order up by a customer-supplied id.
func (s *Store) Find(id string) (*sql.Rows, error) {
	return s.db.Query("SELECT * FROM orders WHERE id = '" + id + "'")
}

// ETag hashes an order for caching.
func ETag(body []byte) string {
	return fmt.Sprintf("%x", sha1.Sum(body))
}

// Export writes an order export the operator names.
func Export(dir, name string, data []byte) error {
	return os.WriteFile(filepath.Join(dir, name), data, 0o644)
}
