package build

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// WriteArchive writes img, named ref, to out in format (FormatDocker when
// empty). The file appears complete or not at all: it is written beside
// out and renamed.
func WriteArchive(img v1.Image, ref, format, out string) error {
	oci, err := isOCI(format)
	if err != nil {
		return err
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("imagebuild: %q is not a valid image reference (want e.g. %s): %w", ref, DefaultRef, err)
	}
	if dir := filepath.Dir(out); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("imagebuild: making the output directory: %w", err)
		}
	}
	tmp := out + ".tmp"
	defer os.Remove(tmp)
	if oci {
		err = writeOCI(img, tag, tmp)
	} else {
		err = tarball.WriteToFile(tmp, tag, img)
	}
	if err != nil {
		return fmt.Errorf("imagebuild: writing %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("imagebuild: writing %s: %w", out, err)
	}
	return nil
}

// annotationRefName is the OCI image-spec annotation for a tag.
const annotationRefName = "org.opencontainers.image.ref.name"

// writeOCI lays the image out with ggcr's layout package in a temporary
// directory and tars that directory as it is.
func writeOCI(img v1.Image, tag name.Tag, out string) error {
	dir, err := os.MkdirTemp("", "imagebuild-oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	// ref.name as the spec's tag; containerd prefers its own annotation,
	// which keeps the full name on import.
	err = p.AppendImage(img, layout.WithAnnotations(map[string]string{
		annotationRefName:             tag.TagStr(),
		AnnotationContainerdImageName: tag.Name(),
	}))
	if err != nil {
		return err
	}
	return tarDir(dir, out)
}

func tarDir(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.Mode = 0o644
		if d.IsDir() {
			hdr.Name += "/"
			hdr.Mode = 0o755
		}
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = epoch, epoch, epoch
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
