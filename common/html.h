/*
 * html.h - HTML as feeds carry it: turned into plain text for the matcher,
 * or made harmless (sanitised) when the markup itself is kept.
 *
 * Both take untrusted markup of any quality (fragments, unclosed tags, stray
 * '<' and '&') and never fail on it; they return NULL only when out of
 * memory.  The input is UTF-8.
 */
#ifndef NEWSALERT_HTML_H
#define NEWSALERT_HTML_H

#include <stddef.h>

/* Plain text of an HTML fragment: tags removed, character and entity
 * references decoded, <script>/<style> dropped, block elements and <br>
 * turned into spaces, runs of whitespace (and no-break spaces) folded to
 * one space, trimmed.  One scan of the markup; named references are those
 * of HTML 4 (libxml2's table), numeric ones to 128..159 mean Windows-1252.
 * Returns a string the caller frees, or NULL when out of memory. */
char *html_to_text(const char *html, size_t len);

/* Sanitised markup: the text is kept byte for byte (entity references
 * included) except that <script>, <style>, <iframe>, <object>, <embed>,
 * <applet>, <frame>, <frameset>, <meta>, <link>, <base> and <form>
 * elements are removed (with their content for the first ones), on*
 * attributes and `style` are dropped, and attributes holding a URL with a
 * javascript:, vbscript: or data: scheme are dropped.  Comments are
 * removed.  Returns a string the caller frees, or NULL when out of memory. */
char *html_sanitize(const char *html, size_t len);

/* html_sanitize(), and URL attributes (href, src...) resolved against base
 * (an absolute URL; NULL or "" leaves them as they are).  A bare '&' in
 * text becomes "&amp;", "&#X41;" becomes "&#x41;", and a numeric reference
 * to 128..159 becomes the Windows-1252 character it stands for. */
char *html_sanitize_base(const char *html, size_t len, const char *base);

/* What Windows-1252 means by byte c when c is 0x80..0x9F (the code point,
 * e.g. 0x2019 for 0x92), else 0 (also for the five bytes it leaves
 * undefined).  Feeds that write Windows-1252 but say Latin-1, or write
 * "&#146;", mean these. */
unsigned html_cp1252(unsigned char c);

/* Fold runs of ASCII whitespace in s (in place) to one space and trim both
 * ends.  Returns s. */
char *html_fold_space(char *s);

#endif
