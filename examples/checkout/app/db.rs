//! The shop's SQLite database: products with stock, reservations and orders.
//!
//! Stock moves only in two transactions: `reserve` takes it (and records a `held`
//! reservation), `release` gives a `held` reservation's stock back. `confirm` turns a `held`
//! reservation into an order. So `initial_stock - stock` of a product always equals the
//! quantity in its `held` and `committed` reservations, which [`audit`] checks.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use super::cart::LineBody;
use super::error::CheckoutError;

/// Products created in an empty database: id, name, price in cents, stock.
pub const CATALOG: &[(i64, &str, i64, i64)] = &[
    (1, "espresso beans 1 kg", 2_400, 100_000),
    (2, "filter papers", 450, 100_000),
    (3, "hand grinder", 8_900, 100_000),
    (4, "milk jug", 1_900, 100_000),
    (5, "scale", 3_500, 100_000),
    (6, "kettle", 5_900, 100_000),
    (7, "tamper", 2_900, 100_000),
    (8, "cleaning tablets", 990, 100_000),
    (9, "travel mug", 1_500, 100_000),
    (10, "dripper", 2_200, 100_000),
    (11, "cupping spoons", 1_200, 100_000),
    (12, "signed barista handbook", 4_900, 40),
];

/// Opens a connection with the settings every connection of the pool uses. A statement that
/// finds the database locked by another writer waits up to `busy_timeout` for it.
pub fn open(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(busy_timeout)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(connection)
}

/// Creates the tables if they are missing, seeds the catalog into an empty database, and
/// gives back the stock of reservations left `held` by a process that stopped in the middle of
/// a checkout. No checkout runs yet when it is called. Returns the number of those
/// reservations.
pub fn init(path: &Path, busy_timeout: Duration) -> rusqlite::Result<usize> {
    let mut connection = open(path, busy_timeout)?;
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS products (
             id INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             price_cents INTEGER NOT NULL CHECK (price_cents > 0),
             initial_stock INTEGER NOT NULL,
             stock INTEGER NOT NULL CHECK (stock >= 0)
         );
         CREATE TABLE IF NOT EXISTS reservations (
             order_id TEXT PRIMARY KEY,
             status TEXT NOT NULL CHECK (status IN ('held', 'committed', 'released'))
         );
         CREATE TABLE IF NOT EXISTS reservation_items (
             order_id TEXT NOT NULL REFERENCES reservations (order_id),
             product_id INTEGER NOT NULL REFERENCES products (id),
             quantity INTEGER NOT NULL CHECK (quantity > 0),
             PRIMARY KEY (order_id, product_id)
         );
         CREATE TABLE IF NOT EXISTS orders (
             id TEXT PRIMARY KEY REFERENCES reservations (order_id),
             user_id TEXT NOT NULL,
             total_cents INTEGER NOT NULL,
             charge_id TEXT NOT NULL
         );",
    )?;
    let transaction = connection.transaction()?;
    let products: i64 =
        transaction.query_row("SELECT COUNT(*) FROM products", [], |row| row.get(0))?;
    if products == 0 {
        for (id, name, price, stock) in CATALOG {
            transaction.execute(
                "INSERT INTO products (id, name, price_cents, initial_stock, stock)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![id, name, price, stock],
            )?;
        }
    }
    transaction.commit()?;

    let left_held: Vec<String> = connection
        .prepare("SELECT order_id FROM reservations WHERE status = 'held'")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for order_id in &left_held {
        release(&mut connection, order_id)?;
    }
    Ok(left_held.len())
}

/// A cart priced against the database.
#[derive(Debug, Clone, Serialize)]
pub struct PricedCart {
    /// The lines, as in the cart.
    pub lines: Vec<LineBody>,
    /// The total, in cents.
    pub total_cents: i64,
}

/// Prices `lines`, checking that every product exists and has the stock (a first check; the
/// reservation decides).
///
/// # Errors
///
/// [`CheckoutError::UnknownProduct`], [`CheckoutError::OutOfStock`], or a database error.
pub fn price(connection: &Connection, lines: &[LineBody]) -> Result<PricedCart, CheckoutError> {
    let mut statement =
        connection.prepare_cached("SELECT price_cents, stock FROM products WHERE id = ?1")?;
    let mut total: i64 = 0;
    for line in lines {
        let (price, stock): (i64, i64) = statement
            .query_row([line.product_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?
            .ok_or(CheckoutError::UnknownProduct(line.product_id))?;
        if stock < line.quantity {
            return Err(CheckoutError::OutOfStock {
                product: line.product_id,
                requested: line.quantity,
                available: stock,
            });
        }
        total = price
            .checked_mul(line.quantity)
            .and_then(|amount| total.checked_add(amount))
            .ok_or_else(|| CheckoutError::InvalidCart("the total overflows".to_string()))?;
    }
    Ok(PricedCart {
        lines: lines.to_vec(),
        total_cents: total,
    })
}

/// Takes the stock of `lines` and records a `held` reservation for `order_id`, all or
/// nothing.
///
/// # Errors
///
/// [`CheckoutError::OutOfStock`] (nothing is taken), or a database error.
pub fn reserve(
    connection: &mut Connection,
    order_id: &str,
    lines: &[LineBody],
) -> Result<(), CheckoutError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    transaction.execute(
        "INSERT INTO reservations (order_id, status) VALUES (?1, 'held')",
        [order_id],
    )?;
    for line in lines {
        let taken = transaction.execute(
            "UPDATE products SET stock = stock - ?2 WHERE id = ?1 AND stock >= ?2",
            params![line.product_id, line.quantity],
        )?;
        if taken == 0 {
            let available: Option<i64> = transaction
                .query_row(
                    "SELECT stock FROM products WHERE id = ?1",
                    [line.product_id],
                    |row| row.get(0),
                )
                .optional()?;
            // Dropping the transaction rolls it back.
            return Err(match available {
                None => CheckoutError::UnknownProduct(line.product_id),
                Some(available) => CheckoutError::OutOfStock {
                    product: line.product_id,
                    requested: line.quantity,
                    available,
                },
            });
        }
        transaction.execute(
            "INSERT INTO reservation_items (order_id, product_id, quantity) VALUES (?1, ?2, ?3)",
            params![order_id, line.product_id, line.quantity],
        )?;
    }
    transaction.commit()?;
    Ok(())
}

/// Gives the stock of a `held` reservation back and marks it `released`. Returns whether
/// there was one.
pub fn release(connection: &mut Connection, order_id: &str) -> rusqlite::Result<bool> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let released = transaction.execute(
        "UPDATE reservations SET status = 'released' WHERE order_id = ?1 AND status = 'held'",
        [order_id],
    )?;
    if released == 1 {
        transaction.execute(
            "UPDATE products SET stock = stock + (
                 SELECT quantity FROM reservation_items
                 WHERE order_id = ?1 AND product_id = products.id)
             WHERE id IN (SELECT product_id FROM reservation_items WHERE order_id = ?1)",
            [order_id],
        )?;
    }
    transaction.commit()?;
    Ok(released == 1)
}

/// An order to record.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    /// Order id.
    pub order_id: String,
    /// Who ordered.
    pub user_id: String,
    /// The total, in cents.
    pub total_cents: i64,
    /// The payment backend's charge id.
    pub charge_id: String,
}

/// Turns the `held` reservation of `order` into a committed order.
///
/// # Errors
///
/// [`CheckoutError::Internal`] when there is no `held` reservation, or a database error.
pub fn confirm(connection: &mut Connection, order: &Order) -> Result<(), CheckoutError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let committed = transaction.execute(
        "UPDATE reservations SET status = 'committed' WHERE order_id = ?1 AND status = 'held'",
        [&order.order_id],
    )?;
    if committed != 1 {
        return Err(CheckoutError::Internal(format!(
            "order {} has no held reservation to confirm",
            order.order_id
        )));
    }
    transaction.execute(
        "INSERT INTO orders (id, user_id, total_cents, charge_id) VALUES (?1, ?2, ?3, ?4)",
        params![
            order.order_id,
            order.user_id,
            order.total_cents,
            order.charge_id
        ],
    )?;
    transaction.commit()?;
    Ok(())
}

/// Stock and orders, and whether they agree.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Audit {
    /// Current stock by product id.
    pub stock: BTreeMap<i64, i64>,
    /// Stock taken (`initial_stock - stock`) by product id.
    pub taken: BTreeMap<i64, i64>,
    /// Quantity in committed orders by product id.
    pub sold: BTreeMap<i64, i64>,
    /// Reservations still `held`.
    pub held: i64,
    /// Reservations in any status.
    pub reservations: i64,
    /// Orders, with their totals in cents, by id.
    pub orders: BTreeMap<String, i64>,
}

impl Audit {
    /// Returns whether every unit of stock taken is in an order and no reservation is left
    /// held.
    pub fn is_consistent(&self) -> bool {
        let sold_or_zero = |id: &i64| self.sold.get(id).copied().unwrap_or(0);
        self.held == 0
            && self
                .taken
                .iter()
                .all(|(id, taken)| *taken == sold_or_zero(id))
    }
}

/// Reads stock, reservations and orders in one transaction.
pub fn audit(connection: &mut Connection) -> rusqlite::Result<Audit> {
    let transaction = connection.transaction()?;
    let mut audit = Audit::default();
    {
        let mut products = transaction.prepare("SELECT id, initial_stock, stock FROM products")?;
        let rows = products.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (id, initial, stock) = row?;
            audit.stock.insert(id, stock);
            audit.taken.insert(id, initial - stock);
        }
        let mut sold = transaction.prepare(
            "SELECT product_id, SUM(quantity) FROM reservation_items
             JOIN reservations USING (order_id)
             WHERE status = 'committed' GROUP BY product_id",
        )?;
        let rows = sold.query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))?;
        for row in rows {
            let (id, quantity) = row?;
            audit.sold.insert(id, quantity);
        }
        let mut orders = transaction.prepare("SELECT id, total_cents FROM orders")?;
        let rows = orders.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (id, total) = row?;
            audit.orders.insert(id, total);
        }
    }
    audit.held = transaction.query_row(
        "SELECT COUNT(*) FROM reservations WHERE status = 'held'",
        [],
        |row| row.get(0),
    )?;
    audit.reservations =
        transaction.query_row("SELECT COUNT(*) FROM reservations", [], |row| row.get(0))?;
    transaction.commit()?;
    Ok(audit)
}

/// One product, as `GET /products` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Product {
    /// Product id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Price in cents.
    pub price_cents: i64,
    /// Units in stock.
    pub stock: i64,
}

/// Lists the products.
pub fn products(connection: &Connection) -> rusqlite::Result<Vec<Product>> {
    let mut statement = connection
        .prepare_cached("SELECT id, name, price_cents, stock FROM products ORDER BY id")?;
    let rows = statement.query_map([], |row| {
        Ok(Product {
            id: row.get(0)?,
            name: row.get(1)?,
            price_cents: row.get(2)?,
            stock: row.get(3)?,
        })
    })?;
    rows.collect()
}
