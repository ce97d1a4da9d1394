// Package store keeps the shop's products and orders, in memory or in
// PostgreSQL.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/gantry-ci/gantry/examples/shop/internal/pg"
)

// Product is something to buy; prices are in cents.
type Product struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Price int    `json:"price"`
}

// Order is a placed order.
type Order struct {
	ID       int    `json:"id"`
	Product  int    `json:"product"`
	Quantity int    `json:"quantity"`
	Total    int    `json:"total"`
	Checkout string `json:"checkout"`
}

// ErrNoProduct is returned for an order of a product that does not exist.
var ErrNoProduct = errors.New("no such product")

// Store is where the shop's data lives.
type Store interface {
	Products(ctx context.Context) ([]Product, error)
	// PlaceOrder prices and saves an order; discount is in percent.
	PlaceOrder(ctx context.Context, product, quantity, discount int, checkout string) (Order, error)
	Ping(ctx context.Context) error
}

// Catalogue is what a new store starts with.
var Catalogue = []Product{{1, "espresso beans", 1290}, {2, "grinder", 8900}, {3, "milk jug", 1450}}

func price(p Product, quantity, discount int) int {
	return p.Price * quantity * (100 - discount) / 100
}

// Memory is a Store for tests and for running without a database.
type Memory struct {
	mu     sync.Mutex
	orders []Order
}

// Products implements Store.
func (m *Memory) Products(context.Context) ([]Product, error) {
	return append([]Product(nil), Catalogue...), nil
}

// PlaceOrder implements Store.
func (m *Memory) PlaceOrder(_ context.Context, product, quantity, discount int, checkout string) (Order, error) {
	for _, p := range Catalogue {
		if p.ID == product {
			m.mu.Lock()
			defer m.mu.Unlock()
			o := Order{ID: len(m.orders) + 1, Product: product, Quantity: quantity, Total: price(p, quantity, discount), Checkout: checkout}
			m.orders = append(m.orders, o)
			return o, nil
		}
	}
	return Order{}, ErrNoProduct
}

// Ping implements Store.
func (m *Memory) Ping(context.Context) error { return nil }

// Postgres is a Store in a PostgreSQL database.
type Postgres struct {
	c *pg.Conn
}

// OpenPostgres connects and creates the schema and catalogue when missing.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	c, err := pg.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	p := &Postgres{c: c}
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS products (id integer PRIMARY KEY, name text NOT NULL, price integer NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, product integer NOT NULL REFERENCES products(id),
			quantity integer NOT NULL CHECK (quantity > 0), total integer NOT NULL, checkout text NOT NULL)`,
	} {
		if _, err := c.Query(ctx, q); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("create schema: %w", err)
		}
	}
	for _, prod := range Catalogue {
		if _, err := c.Query(ctx, `INSERT INTO products (id, name, price) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
			strconv.Itoa(prod.ID), prod.Name, strconv.Itoa(prod.Price)); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("seed products: %w", err)
		}
	}
	return p, nil
}

// Close closes the connection.
func (p *Postgres) Close() error { return p.c.Close() }

// Products implements Store.
func (p *Postgres) Products(ctx context.Context) ([]Product, error) {
	rows, err := p.c.Query(ctx, `SELECT id, name, price FROM products ORDER BY id`)
	if err != nil {
		return nil, err
	}
	out := make([]Product, 0, len(rows))
	for _, r := range rows {
		id, _ := strconv.Atoi(*r[0])
		pr, _ := strconv.Atoi(*r[2])
		out = append(out, Product{ID: id, Name: *r[1], Price: pr})
	}
	return out, nil
}

// PlaceOrder implements Store: the price comes from the database in the
// same statement that saves the order.
func (p *Postgres) PlaceOrder(ctx context.Context, product, quantity, discount int, checkout string) (Order, error) {
	rows, err := p.c.Query(ctx, `INSERT INTO orders (product, quantity, total, checkout)
		SELECT id, $2::integer, price * $2::integer * (100 - $3::integer) / 100, $4 FROM products WHERE id = $1::integer
		RETURNING id, total`, strconv.Itoa(product), strconv.Itoa(quantity), strconv.Itoa(discount), checkout)
	if err != nil {
		return Order{}, err
	}
	if len(rows) == 0 {
		return Order{}, ErrNoProduct
	}
	id, _ := strconv.Atoi(*rows[0][0])
	total, _ := strconv.Atoi(*rows[0][1])
	return Order{ID: id, Product: product, Quantity: quantity, Total: total, Checkout: checkout}, nil
}

// Ping implements Store.
func (p *Postgres) Ping(ctx context.Context) error {
	_, err := p.c.Query(ctx, `SELECT 1`)
	return err
}

// OrderCount returns how many orders went through a checkout flow.
func (p *Postgres) OrderCount(ctx context.Context, checkout string) (int, error) {
	rows, err := p.c.Query(ctx, `SELECT count(*) FROM orders WHERE checkout = $1`, checkout)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(*rows[0][0])
}
