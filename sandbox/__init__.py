"""Process pool that executes untrusted environment code, the HTTP env server + client, the
result types they share, and the asyncio adapter the agent loop uses."""
