package telegramfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"path"
	"strings"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// maxDownloadSize is the largest file getFile lets a bot download.
const maxDownloadSize = 20 << 20

// Kinds of stored file. Telegram refuses to send a file_id as a different kind.
const (
	kindPhoto    = "photo"
	kindDocument = "document"
	kindSticker  = "sticker"
	kindVoice    = "voice"
)

// fileStore is every file the fake holds, by file_id and by download path (guarded by
// world.mu).
type fileStore struct {
	nextFileNum int
	files       map[string]*storedFile
	paths       map[string]*storedFile
}

// storedFile is one file_id. Its data is never modified after it is stored.
type storedFile struct {
	file     tgbotapi.File
	kind     string
	data     []byte
	photo    []tgbotapi.PhotoSize // for a photo: all its sizes, so resending by file_id repeats them
	document *tgbotapi.Document
}

// storeFileLocked gives data a new file_id and a download path. The file_unique_id depends only
// on kind, variant and content, as Telegram's does, so tests can recognise a re-sent file.
func (s *fileStore) storeFileLocked(kind, variant string, data []byte, ext string) *storedFile {
	s.nextFileNum++
	n := s.nextFileNum
	idPrefix, dir := fileLayout(kind)
	sum := sha256.Sum256(append([]byte(kind+"/"+variant+"/"), data...))
	f := &storedFile{
		file: tgbotapi.File{
			FileID:       fmt.Sprintf("%sfake%06d", idPrefix, n),
			FileUniqueID: "AQAD" + base64.RawURLEncoding.EncodeToString(sum[:9]),
			FileSize:     len(data),
			FilePath:     fmt.Sprintf("%s/file_%d%s", dir, n, ext),
		},
		kind: kind,
		data: data,
	}
	s.files[f.file.FileID] = f
	s.paths[f.file.FilePath] = f
	return f
}

// fileLayout keeps the look of Telegram's file ids, whose prefix tells the kind, and its paths.
func fileLayout(kind string) (idPrefix, dir string) {
	switch kind {
	case kindPhoto:
		return "AgAC", "photos"
	case kindSticker:
		return "CAAC", "stickers"
	case kindVoice:
		return "AwAC", "voice"
	}
	return "BQAC", "documents"
}

// storePhotoLocked stores a photo the way Telegram presents one: a small thumbnail first and the
// full size last, which is the one bots pick. The thumbnail's bytes are the original's: the fake
// does not resample images.
func (s *fileStore) storePhotoLocked(data []byte) []tgbotapi.PhotoSize {
	w, h := imageSize(data)
	tw, th := 90, 90
	if w >= h {
		th = max(1, h*90/w)
	} else {
		tw = max(1, w*90/h)
	}
	thumb := s.storeFileLocked(kindPhoto, "s", data, ".jpg")
	full := s.storeFileLocked(kindPhoto, "y", data, ".jpg")
	sizes := []tgbotapi.PhotoSize{
		{FileID: thumb.file.FileID, FileUniqueID: thumb.file.FileUniqueID, Width: tw, Height: th, FileSize: len(data)},
		{FileID: full.file.FileID, FileUniqueID: full.file.FileUniqueID, Width: w, Height: h, FileSize: len(data)},
	}
	thumb.photo, full.photo = sizes, sizes
	return sizes
}

func (s *fileStore) storeDocumentLocked(data []byte, name, mimeType string) *tgbotapi.Document {
	if mimeType == "" || mimeType == "application/octet-stream" {
		if byExt := mime.TypeByExtension(path.Ext(name)); byExt != "" {
			mimeType, _, _ = strings.Cut(byExt, ";")
		} else {
			mimeType = "application/octet-stream"
		}
	}
	f := s.storeFileLocked(kindDocument, "", data, path.Ext(name))
	f.document = &tgbotapi.Document{
		FileID:       f.file.FileID,
		FileUniqueID: f.file.FileUniqueID,
		FileName:     name,
		MimeType:     mimeType,
		FileSize:     len(data),
	}
	return f.document
}

// imageSize reads the dimensions of a JPEG, PNG or GIF; anything else is treated as a typical
// phone photo, since tests often upload bytes that are not an image at all.
func imageSize(data []byte) (int, int) {
	for _, decode := range []func(io.Reader) (image.Config, error){jpeg.DecodeConfig, png.DecodeConfig, gif.DecodeConfig} {
		if c, err := decode(bytes.NewReader(data)); err == nil && c.Width > 0 && c.Height > 0 {
			return c.Width, c.Height
		}
	}
	return 1280, 960
}

// AddFile registers data as a document the bot can send by file_id or download, as if someone
// had sent it to the bot earlier.
func (s *simulation) AddFile(data []byte, fileName string) tgbotapi.File {
	data = bytes.Clone(data)
	s.mu.Lock()
	defer s.mu.Unlock()
	doc := s.storeDocumentLocked(data, fileName, "")
	f := s.files[doc.FileID].file
	s.changedLocked()
	return f
}

// getFile answers like Telegram: the file_path to download from, for files up to 20 MB.
func (s *botAPI) getFile(r *request) (json.RawMessage, *apiError) {
	id := r.str("file_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[id]
	if f == nil {
		return nil, badRequest("invalid file_id")
	}
	if len(f.data) > maxDownloadSize {
		return nil, badRequest("file is too big")
	}
	return jsonOf(f.file), nil
}

// mediaFromRequest reads the upload a send method carries in field (or in the part an
// "attach://name" value points to). No upload is not an error: the field may hold a file_id.
func mediaFromRequest(r *request, field string) ([]byte, string, *apiError) {
	part := field
	ref := r.str(field)
	if attach, ok := strings.CutPrefix(ref, "attach://"); ok {
		part = attach
	}
	fhs := r.files[part]
	if len(fhs) == 0 {
		return nil, "", nil
	}
	fh := fhs[0]
	f, err := fh.Open()
	if err != nil {
		return nil, "", badRequest("can't read uploaded file: " + err.Error())
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, "", badRequest("can't read uploaded file: " + err.Error())
	}
	if buf.Len() == 0 {
		return nil, "", badRequest("file must be non-empty")
	}
	return buf.Bytes(), fh.Filename, nil
}

// fileByRefLocked resolves a file_id (or URL) the bot passed instead of uploading.
func (s *fileStore) fileByRefLocked(ref, kind string) (*storedFile, *apiError) {
	switch {
	case ref == "":
		return nil, badRequest("there is no " + kind + " in the request")
	case strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://"):
		// The fake never fetches from the network.
		return nil, badRequest("failed to get HTTP URL content")
	}
	f := s.files[ref]
	if f == nil {
		return nil, badRequest("wrong file identifier/HTTP URL specified")
	}
	if f.kind != kind {
		return nil, badRequest("type of file mismatch")
	}
	return f, nil
}
