namespace Platform.Benchmarks;

/// <summary>An operation under measurement did not do what it should; the run stops without figures.</summary>
internal sealed class BenchmarkFailedException(string message) : Exception(message);
