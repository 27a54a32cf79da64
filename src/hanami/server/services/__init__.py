"""What the API does, apart from HTTP: each module holds one resource's behaviour (checks,
conversions, shapes of the answers), so that the routes in ``api/routes`` only adapt
requests and answers."""
