namespace Platform.Gateway.Connections;

/// <summary>A send from the delivery to the client failed (the client's side broke): the connection closes with 4003.</summary>
internal sealed class ClientWriteException(Exception inner) : Exception("A send to the client failed.", inner);
