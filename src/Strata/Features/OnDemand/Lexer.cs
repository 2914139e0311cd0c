using System.Globalization;
using System.Text;

namespace Strata.Features.OnDemand;

/// <summary>The kinds of tokens of on-demand expressions.</summary>
internal enum TokenKind
{
    End,
    Number,
    String,
    Name,
    Symbol,
}

/// <summary>One token and the position of its first character.</summary>
internal readonly record struct Token(TokenKind Kind, string Text, double Number, int Position);

/// <summary>Splits an expression into tokens; every problem is a <see cref="StrataException"/> naming the position.</summary>
internal static class Lexer
{
    private static readonly string[] Symbols = ["<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "(", ")", ",", "<", ">"];

    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (true)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i == text.Length)
            {
                tokens.Add(new Token(TokenKind.End, "", 0, i));
                return tokens;
            }

            var c = text[i];
            var start = i;
            if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])))
            {
                while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
                {
                    i++;
                }

                if (i < text.Length && (text[i] == 'e' || text[i] == 'E'))
                {
                    i++;
                    if (i < text.Length && (text[i] == '+' || text[i] == '-'))
                    {
                        i++;
                    }

                    while (i < text.Length && char.IsAsciiDigit(text[i]))
                    {
                        i++;
                    }
                }

                var literal = text[start..i];
                if (!double.TryParse(literal, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var number)
                    || !double.IsFinite(number))
                {
                    throw OnDemandExpression.Error(text, $"invalid number '{literal}'", start);
                }

                tokens.Add(new Token(TokenKind.Number, literal, number, start));
            }
            else if (char.IsAsciiLetter(c) || c == '_')
            {
                while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_'))
                {
                    i++;
                }

                tokens.Add(new Token(TokenKind.Name, text[start..i], 0, start));
            }
            else if (c is '\'' or '"')
            {
                var value = new StringBuilder();
                i++;
                while (true)
                {
                    if (i >= text.Length)
                    {
                        throw OnDemandExpression.Error(text, "unterminated string", start);
                    }

                    if (text[i] == c)
                    {
                        i++;
                        break;
                    }

                    if (text[i] == '\\')
                    {
                        if (i + 1 >= text.Length || text[i + 1] is not ('\\' or '\'' or '"'))
                        {
                            throw OnDemandExpression.Error(text, "invalid escape (only \\\\, \\' and \\\" are allowed)", i);
                        }

                        i++;
                    }

                    value.Append(text[i++]);
                }

                tokens.Add(new Token(TokenKind.String, value.ToString(), 0, start));
            }
            else
            {
                var symbol = Array.Find(Symbols, s => string.CompareOrdinal(text, i, s, 0, s.Length) == 0)
                    ?? throw OnDemandExpression.Error(text, $"unexpected character '{c}'", i);
                i += symbol.Length;
                tokens.Add(new Token(TokenKind.Symbol, symbol, 0, start));
            }
        }
    }
}
