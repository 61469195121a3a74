using System.Diagnostics;
using System.Runtime.CompilerServices;
using LlamaNas.Core.IO;
using LlamaNas.TestSupport;
using Xunit.Abstractions;
using static LlamaNas.Tool.Tests.CliRunner;

namespace LlamaNas.Tool.Tests;

/// <summary>Fine-tuning onto a 3 MiB filesystem: coded failures, nothing half-written left behind, and --resume once space is back.</summary>
public sealed class DiskFullTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_full_disk_leaves_no_temporary_files_and_resume_succeeds_once_space_is_back()
    {
        var output = _dir.File("small-disk");
        using var disk = SmallDisk.Create(output, 3 << 20);
        log.WriteLine(disk.Description);
        string[] args = ["finetune", SharedData.Stories260K, "--data", SharedData.Path("data", "tinystories", "train-v1-head.txt"), "--batch-size", "2", "--seq-len", "32", "--seed", "3", "--steps", "4", "--checkpoint-every", "2", "--output", output];

        // A checkpoint (weights 1 MiB, optimizer moments 2 MiB) does not fit, on the first run nor on a retry.
        foreach (var attempt in new[] { args, [.. args, "--resume"] })
        {
            var full = await Run(attempt);
            Assert.Equal(1, full.Code);
            Assert.Matches("error LNAS0(110|242): .*(No space left on device|could not be written)", full.Err);
            AssertNothingLeftBehind(output);
        }

        // What a killed run leaves behind is swept at the next start.
        disk.Grow();
        Directory.CreateDirectory(Path.Combine(output, "checkpoints", $"step-0000002.tmp-{DeadPid()}"));
        File.WriteAllText(Path.Combine(output, "config.json.tmp-0123456789ab"), "{");

        var resumed = await Run([.. args, "--resume"]);
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains("removed 2 unfinished temporary file(s) of an earlier run", resumed.Out, StringComparison.Ordinal);
        AssertNothingLeftBehind(output);
        Assert.True(File.Exists(Path.Combine(output, "model.safetensors")));
    }

    private static void AssertNothingLeftBehind(string output) =>
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(output, "*", SearchOption.AllDirectories), p =>
            Path.GetFileName(p) is var name && (name.Contains(".tmp-", StringComparison.Ordinal) || name.Contains(".stale-", StringComparison.Ordinal) || name == OutputLock.FileName));

    private static int DeadPid()
    {
        using var exited = Process.Start(new ProcessStartInfo("true"))!;
        exited.WaitForExit();
        return exited.Id;
    }

    /// <summary>
    /// A tmpfs of the given size mounted on the folder where this runs as root; elsewhere (CI without the privilege)
    /// the writes of this test's async flow are limited instead, failing at the same size as a full disk does.
    /// </summary>
    private sealed class SmallDisk : IDisposable
    {
        private readonly string _folder;
        private readonly bool _mounted;

        private SmallDisk(string folder, bool mounted, string description)
        {
            _folder = folder;
            _mounted = mounted;
            Description = description;
        }

        public string Description { get; }

        public static SmallDisk Create(string folder, long bytes)
        {
            Directory.CreateDirectory(folder);
            if (Environment.UserName == "root" && Mount("-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", folder))
            {
                return new SmallDisk(folder, mounted: true, $"tmpfs of {bytes} bytes mounted on {folder}");
            }

            AtomicFile.SpaceLimit.Value = new StrongBox<long>(bytes);
            return new SmallDisk(folder, mounted: false, $"no tmpfs here: writes limited to {bytes} bytes by AtomicFile.SpaceLimit");
        }

        public void Grow()
        {
            if (_mounted)
            {
                Assert.True(Mount("-o", "remount,size=64m", _folder), "the tmpfs could not be grown");
            }
            else
            {
                AtomicFile.SpaceLimit.Value = null;
            }
        }

        public void Dispose()
        {
            if (_mounted)
            {
                Run("umount", _folder);
            }

            AtomicFile.SpaceLimit.Value = null;
        }

        private static bool Mount(params string[] args) => Run("mount", args);

        private static bool Run(string command, params string[] args)
        {
            using var process = Process.Start(new ProcessStartInfo(command, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
    }
}
