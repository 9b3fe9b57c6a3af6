//! Parsing and checking a cart before any database work.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::error::CheckoutError;

/// Maximum number of lines in one cart.
pub const MAX_LINES: usize = 50;
/// Maximum length of the user id and the payment token, in bytes.
pub const MAX_TEXT: usize = 128;

/// A cart as `POST /checkout` takes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartBody {
    /// Who orders.
    pub user_id: String,
    /// What, at least one line.
    pub items: Vec<LineBody>,
    /// Payment token for the order.
    pub payment_token: String,
}

/// One line of a cart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    /// Product id.
    pub product_id: i64,
    /// How many.
    pub quantity: i64,
}

/// A cart that passed every check that needs no database.
#[derive(Debug, Clone)]
pub struct Cart {
    /// Who orders.
    pub user_id: String,
    /// One line per product, in the order given.
    pub lines: Vec<LineBody>,
    /// Payment token for the order.
    pub payment_token: String,
}

/// Parses and checks a request body.
///
/// # Errors
///
/// [`CheckoutError::MalformedJson`] when the body is not JSON, [`CheckoutError::InvalidCart`]
/// naming the field and the rule when it is not a valid cart.
pub fn parse(body: &[u8], max_quantity: i64) -> Result<Cart, CheckoutError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| CheckoutError::MalformedJson(error.to_string()))?;
    // serde reads a struct from a JSON array too, by position, so the cart and its lines are
    // checked to be objects first.
    if !value.is_object() {
        return Err(CheckoutError::InvalidCart(format!(
            "invalid type: the cart is {}, expected a JSON object with user_id, items and payment_token",
            json_kind(&value)
        )));
    }
    if let Some(items) = value.get("items").and_then(serde_json::Value::as_array) {
        if let Some((index, line)) = items.iter().enumerate().find(|(_, line)| !line.is_object()) {
            return Err(CheckoutError::InvalidCart(format!(
                "items[{index}]: invalid type: {}, expected an object with product_id and quantity",
                json_kind(line)
            )));
        }
    }
    // Parsed again from the bytes, not from `value`, because `value` kept only the last of
    // duplicate keys and this parse rejects them. The path names the field at fault, as in
    // `items[0].quantity: invalid type: ...`.
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let cart: CartBody = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let error = error.into_inner();
        if !error.is_data() {
            CheckoutError::MalformedJson(error.to_string())
        } else if path == "." {
            CheckoutError::InvalidCart(error.to_string())
        } else {
            CheckoutError::InvalidCart(format!("{path}: {error}"))
        }
    })?;
    check_text("user_id", &cart.user_id)?;
    check_text("payment_token", &cart.payment_token)?;
    if cart.items.is_empty() {
        return Err(CheckoutError::InvalidCart(
            "items is empty; add at least one item".to_string(),
        ));
    }
    if cart.items.len() > MAX_LINES {
        return Err(CheckoutError::InvalidCart(format!(
            "items has {} lines; at most {MAX_LINES} are allowed",
            cart.items.len()
        )));
    }
    let mut seen = BTreeSet::new();
    for (index, line) in cart.items.iter().enumerate() {
        if line.product_id <= 0 {
            return Err(CheckoutError::InvalidCart(format!(
                "items[{index}].product_id {} is invalid; product ids are positive",
                line.product_id
            )));
        }
        if !(1..=max_quantity).contains(&line.quantity) {
            return Err(CheckoutError::InvalidCart(format!(
                "items[{index}].quantity {} is out of range; use 1 to {max_quantity}",
                line.quantity
            )));
        }
        if !seen.insert(line.product_id) {
            return Err(CheckoutError::InvalidCart(format!(
                "items[{index}]: product {} is listed twice; list each product once with its total quantity",
                line.product_id
            )));
        }
    }
    Ok(Cart {
        user_id: cart.user_id,
        lines: cart.items,
        payment_token: cart.payment_token,
    })
}

fn check_text(field: &str, value: &str) -> Result<(), CheckoutError> {
    if value.trim().is_empty() {
        return Err(CheckoutError::InvalidCart(format!(
            "{field} is empty; give a non-empty string"
        )));
    }
    if value.len() > MAX_TEXT {
        return Err(CheckoutError::InvalidCart(format!(
            "{field} is {} bytes long; at most {MAX_TEXT} are allowed",
            value.len()
        )));
    }
    Ok(())
}

/// Names the JSON type of `value` for an error message.
fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
