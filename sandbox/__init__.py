"""Process pool that executes untrusted environment code, and the HTTP env server + client."""
