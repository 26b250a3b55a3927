namespace ChatOps.Postgres.Launching;

/// <summary>No PostgreSQL could be had; the message lists every option and why each failed.</summary>
public sealed class PostgresUnavailableException(string message) : Exception(message);
