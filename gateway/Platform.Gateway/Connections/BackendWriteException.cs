namespace Platform.Gateway.Connections;

/// <summary>The delivery failed to take a client message (its backend went away): the connection closes with 4001.</summary>
internal sealed class BackendWriteException(Exception inner) : Exception("The backend failed to take a client message.", inner);
