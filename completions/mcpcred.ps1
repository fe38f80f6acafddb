# mcpcred completion for powershell: `mcpcred completion powershell` prints it (generated; do not edit)
# Every TAB asks `mcpcred __complete --current=WORD WORDS...`: first line a directive (plain,
# files, dirs), then one candidate per line, "value<TAB>description".
Register-ArgumentCompleter -Native -CommandName mcpcred -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @()
    foreach ($element in $commandAst.CommandElements | Select-Object -Skip 1) {
        if ($element.Extent.EndOffset -lt $cursorPosition) { $words += $element.ToString() }
    }
    $lines = @(& mcpcred __complete "--current=$wordToComplete" @words 2>$null)
    if ($lines.Count -eq 0) { return }
    if ($lines[0] -eq 'files' -or $lines[0] -eq 'dirs') {
        # PowerShell's own file-name completion: paths as typed, quoted where needed
        [System.Management.Automation.CompletionCompleters]::CompleteFilename($wordToComplete) |
            Where-Object { $lines[0] -eq 'files' -or $_.ResultType -eq 'ProviderContainer' }
        return
    }
    foreach ($line in $lines | Select-Object -Skip 1) {
        $parts = $line -split "`t", 2
        $tip = if ($parts.Count -gt 1 -and $parts[1]) { $parts[1] } else { $parts[0] }
        $text = $parts[0]
        if ($text -match '[\s''"`$;,(){}@#|&<>]') { $text = "'" + $text.Replace("'", "''") + "'" }
        [System.Management.Automation.CompletionResult]::new($text, $parts[0], 'ParameterValue', $tip)
    }
}
