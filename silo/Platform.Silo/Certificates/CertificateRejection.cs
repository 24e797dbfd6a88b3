using Platform.Contracts.Problems;

namespace Platform.Silo.Certificates;

/// <summary>Why an upload was refused: a stable problem code, the request field at fault and an explanation.</summary>
/// <param name="Code">One of the <c>certificate_*</c> codes of <see cref="ErrorCodes"/>, or <see cref="ErrorCodes.ValidationFailed"/>.</param>
/// <param name="Field">Request field at fault: <c>pem</c>, <c>pfx</c> or <c>password</c>.</param>
/// <param name="FieldCode">The <see cref="FieldErrorCodes"/> value for the field.</param>
/// <param name="Detail">Human-readable explanation; never echoes key material.</param>
internal sealed record CertificateRejection(string Code, string Field, string FieldCode, string Detail);
