using Orleans.Serialization.Cloning;
using Platform.Contracts.Internal;

namespace Platform.Cluster;

/// <summary>
/// Orleans copies every argument of a grain call before it sends it, and a type of <c>Platform.Contracts</c> is copied
/// by its JSON codec: written and read back, before the same batch is written again for the wire. A gateway never
/// changes a batch of connection events once it is posted (a retry posts the same one), and the silo only reads it, so
/// the batch goes as it is. Serialization, and so the wire form older and newer builds read, is unchanged.
/// </summary>
[RegisterCopier]
internal sealed class ConnectionEventBatchCopier : IDeepCopier<ConnectionEventBatch>
{
    public ConnectionEventBatch? DeepCopy(ConnectionEventBatch? input, CopyContext context) => input;
}
