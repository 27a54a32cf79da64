"""Who may do what, and how much: authentication, credentials, policies, tenancy, and the
limits that keep one client from exhausting the server (login rate, quotas, request heads
and bodies, trusted proxies)."""
