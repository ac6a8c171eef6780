"""The shop's HTTP routes: orders and payments for buyers, webhooks for the gateways."""
