using TorchSharp;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// Scalars held for the process's life. TorchSharp's add without an explicit alpha (and so the + operator) and
/// add_(Scalar) convert 1 into a new Scalar on every call and leave it to the GC's finalizer, which can free it while
/// the native call still reads it: a rare internal error ("Unknown scalar type", a failed toFloat check) in long runs.
/// Hot paths pass <see cref="One"/> as alpha instead.
/// </summary>
internal static class Scalars
{
    public static Scalar One { get; } = 1.ToScalar();

    /// <summary>The exponent of a square (square() itself makes a Scalar per call).</summary>
    public static Scalar Two { get; } = 2.ToScalar();
}
